"""Running generations: fair scheduling of API slots and the lifecycle of one job."""
