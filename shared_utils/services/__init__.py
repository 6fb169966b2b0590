"""Application services: the use cases behind the REST routes and the engine's steps. Handlers
parse and shape; services decide; repositories store."""
