"""Batch jobs: a fleet's conversion as one job, parallel and crash-safe."""
