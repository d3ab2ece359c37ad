"""Errors the bot expects and knows how to explain.

Every error carries two texts: ``str(exc)`` is the detail for the logs (ids, status codes,
never a secret) and ``user_message`` is the plain sentence a person sees in Slack.

* BotError
  * ConfigError                  a setting is missing or malformed
  * StorageError                 the database failed
  * FoundryError                 Microsoft Foundry could not do what was asked
    * FoundryAuthError           401/403: no token, or no "Azure AI User" role
    * FoundryNotFound            404: the agent, conversation, file or container is gone
      * ContainerExpired         the sandbox session timed out and its files are gone
    * FoundryBadRequest          400: the request was refused (``code`` says why)
      * ToolNotAvailable         code interpreter is not enabled for this model or region
    * FoundryRateLimited         429, after the retries allowed
    * FoundryUnavailable         connection failure, timeout, or 5xx after retries
    * ResponseFailed             the run itself ended with ``status: failed`` or an error event
"""

from __future__ import annotations


class BotError(Exception):
    """Base class for failures we report back into the Slack thread."""

    #: Shown to the person in Slack. Never holds secrets or raw upstream bodies.
    user_message = "Sorry, something went wrong on my side. Please try again."

    def __init__(self, detail: str, *, user_message: str | None = None) -> None:
        super().__init__(detail)
        if user_message is not None:
            self.user_message = user_message


class ConfigError(BotError):
    """A setting is missing or malformed; start-up stops with one line per problem."""

    user_message = "The bot is misconfigured. An administrator needs to check its settings."

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class StorageError(BotError):
    """The bot's database could not be read or written."""

    user_message = "I couldn't reach my database just now. Please try again in a minute."


class FoundryError(BotError):
    """Microsoft Foundry could not do what was asked."""

    user_message = "Microsoft Foundry couldn't handle that request. Please try again."

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(detail, user_message=user_message)
        self.status = status
        self.code = code
        self.request_id = request_id


class FoundryAuthError(FoundryError):
    """401 or 403: the credential has no valid token, or lacks the project role."""

    user_message = (
        "I couldn't sign in to Microsoft Foundry. An administrator needs to check the bot's Azure "
        'credential and give it the "Azure AI User" role on the Foundry project.'
    )


class FoundryNotFound(FoundryError):
    """404: the agent, conversation, file, response or container does not exist (any more)."""

    user_message = "Something this thread relied on no longer exists in Microsoft Foundry."


class ContainerExpired(FoundryNotFound):
    """The sandbox session expired (1 hour active, 30 minutes idle) and its files went with it."""

    user_message = (
        "The sandbox session for this thread timed out, so its files and variables are gone. "
        "Ask again and I'll start a fresh sandbox with your files."
    )


class FoundryBadRequest(FoundryError):
    """400: Foundry refused the request; ``code`` holds its reason (e.g. ``invalid_payload``)."""

    user_message = "Microsoft Foundry refused that request."


class ToolNotAvailable(FoundryBadRequest):
    """Code interpreter is not enabled on the agent, or the model or region does not support it."""

    user_message = (
        "Code Interpreter isn't available for this bot: the model deployment or its region may "
        "not support it. An administrator needs to check the model and region."
    )


class FoundryRateLimited(FoundryError):
    """429 after the allowed retries; ``retry_after`` is the server's hint in seconds, if any."""

    user_message = "Microsoft Foundry is busy (rate limited). Please try again in a minute."

    def __init__(
        self,
        detail: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        code: str | None = "rate_limit_exceeded",
        request_id: str | None = None,
    ) -> None:
        super().__init__(detail, status=status, code=code, request_id=request_id)
        self.retry_after = retry_after


class FoundryUnavailable(FoundryError):
    """Foundry could not be reached, timed out, or kept failing on its side (5xx)."""

    user_message = "I can't reach Microsoft Foundry right now. Please try again in a few minutes."


class ResponseFailed(FoundryError):
    """The run ended with ``status: failed`` or the stream sent an ``error`` event."""

    user_message = "The run failed inside Microsoft Foundry. Try a simpler request first."

    #: The failed response, when Foundry had announced one.
    response_id: str | None = None
