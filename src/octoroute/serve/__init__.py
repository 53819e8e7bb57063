"""The routing server: an OpenAI-compatible endpoint that routes, answers and learns.

Layout: :mod:`.errors` (OpenAI-style error objects), :mod:`.protocol` (the chat request as
parsed and the response and stream bodies), :mod:`.service` (:class:`RoutingService`: route,
generate, log every decision, learn from feedback, keep the policy's state on disk),
:mod:`.app` (the Starlette application: endpoints, headers, keys, body limit). The ``serve``
extra brings Starlette and uvicorn; nothing here is imported before ``octoroute serve`` runs.
"""
