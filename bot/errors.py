"""Errors the bot expects and knows how to explain.

Every error carries two texts: ``str(exc)`` is the detail for the logs (ids, status codes,
never a secret) and ``user_message`` is the plain sentence a person sees in Slack.

* BotError
  * ConfigError                  a setting is missing or malformed
  * StorageError                 the database failed
  * FoundryError                 Microsoft Foundry could not do what was asked
    * FoundryAuthError           401/403: no token, or no "Azure AI User" role
      * FoundrySignInFailed      the credential chain gave no token at all
    * FoundryNotFound            404: the agent, conversation, file or container is gone
      * ContainerExpired         the sandbox session timed out and its files are gone
    * FoundryBadRequest          400: the request was refused (``code`` says why)
      * ToolNotAvailable         code interpreter is not enabled for this model or region
    * FoundryRateLimited         429, after the retries allowed
    * FoundryUnavailable         connection failure, timeout, or 5xx after retries
    * ResponseFailed             the run itself ended with ``status: failed`` or an error event
  * FileRelayError               a dropped file could not be brought over from Slack
    * FileDownloadFailed         network or HTTP failure (after retries), or too many redirects
    * NotASlackFile              the file's URL is not on a Slack host: not fetched, no token sent
    * FileLookupFailed           files.info refused to describe the file (e.g. Slack Connect)
    * FileTooLarge               the file is larger than the limit (announced or while streaming)
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


class FoundrySignInFailed(FoundryAuthError):
    """No token at all: the credential chain found nothing that could sign in (no role is at stake yet)."""

    user_message = (
        "I couldn't sign in to Microsoft Foundry: no Azure credential gave me a token. An administrator "
        "needs to check the bot's credential (a managed identity, az login, or the AZURE_* variables)."
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


class FileRelayError(BotError):
    """A file dropped in Slack could not be brought over; ``file_name`` says which, if known."""

    user_message = "I couldn't bring that file over from Slack. Please try again."
    #: ``user_message`` when the file's name is known; ``{name}`` is filled in.
    named_message = "I couldn't bring {name} over from Slack. Please try again."

    def __init__(self, detail: str, *, name: str | None = None, user_message: str | None = None) -> None:
        if user_message is None and name:
            user_message = self.named_message.format(name=name)
        super().__init__(detail, user_message=user_message)
        self.file_name = name


class FileDownloadFailed(FileRelayError):
    """Slack's file host failed: a network error, an HTTP error, or a redirect loop."""

    user_message = "I couldn't download that file from Slack. Please try again."
    named_message = "I couldn't download {name} from Slack. Please try again."


class NotASlackFile(FileRelayError):
    """The file's URL does not point at a Slack host, so it was not fetched and no token was sent."""

    user_message = "I didn't download that file: its link doesn't point to Slack, and I only fetch files from Slack."
    named_message = "I didn't download {name}: its link doesn't point to Slack, and I only fetch files from Slack."


class FileLookupFailed(FileRelayError):
    """Slack would not describe a file (``files.info`` failed), e.g. a Slack Connect file we cannot see."""

    user_message = "Slack wouldn't let me read that file. Make sure I'm a member of this channel."
    named_message = "Slack wouldn't let me read {name}. Make sure I'm a member of this channel."


class FileTooLarge(FileRelayError):
    """The file passed the size limit (``limit`` bytes), as announced or while it streamed."""

    user_message = "That file is larger than my size limit, so I didn't download it."
    named_message = "{name} is larger than my {limit} limit, so I didn't download it."

    def __init__(self, detail: str, *, name: str | None = None, limit: int | None = None) -> None:
        message = None
        if name and limit is not None:
            message = self.named_message.format(name=name, limit=_size_text(limit))
        elif name:
            message = f"{name} is larger than my size limit, so I didn't download it."
        super().__init__(detail, name=name, user_message=message)
        self.limit = limit


def _size_text(size: int) -> str:
    """A limit as people read it: whole MB when it is one (MAX_FILE_MB), bytes otherwise."""
    mb = 1024 * 1024
    return f"{size // mb} MB" if size >= mb and size % mb == 0 else f"{size:,} bytes"
