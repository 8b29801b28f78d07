"""The daemon's serving layer: the server, the Starlette app, the API
declarations, middleware, routes and the console. Calls into the domain."""
