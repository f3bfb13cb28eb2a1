@infrastructure @needs.docker
Feature: Production containers are up and healthy
  Permiso runs as four containers: the application, its PostgreSQL database, its Redis cache and the
  nginx front. If any of them is missing, stopped or failing its own health check, people cannot sign
  in or their tokens stop working, whatever the rest of this specification says. So before a release
  the deployment's containers are checked first, and a problem names the container to look at.

  The containers checked are the ones the deployment's settings list. These checks need access to
  the container engine of the deployment; without it they are skipped and the report says why.

  Background:
    Given the deployment's production containers

  @critical
  Scenario: The production containers are running
    When the container engine reports on them
    Then every production container is running

  Scenario: Containers with health checks report healthy
    When the container engine reports on them
    Then every production container that has a health check reports healthy
