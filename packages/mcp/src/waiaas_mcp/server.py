"""`waiaas-mcp`: the MCP server over stdio, built on the SDK's MCPServer.

``create_server`` wires settings, the SessionManager, the ApiClient, the tools and the
resources; ``main`` runs it until stdin closes or SIGTERM/SIGINT arrives.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import mcp.server.mcpserver.server as _sdk_server
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

from waiaas_core.agent import register_agent
from waiaas_core.lazy_http import LazyHttp
from waiaas_mcp import __version__
from waiaas_mcp._stdio import StdinLines, stdio_transport
from waiaas_mcp.client import ApiClient
from waiaas_mcp.config import Settings
from waiaas_mcp.local_session import LocalSession
from waiaas_mcp.log import setup_logging
from waiaas_mcp.session import SessionManager

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("waiaas_mcp")

USAGE = """usage: waiaas-mcp [--help] [--version]

MCP server over stdio for one waiaas wallet; started by an MCP client such as
Claude Desktop. Configured by the environment:

  WAIAAS_BASE_URL               daemon URL (default http://127.0.0.1:3100)
  WAIAAS_DATA_DIR               data dir holding mcp-tokens/ (default ~/.waiaas)
  WAIAAS_WALLET_ID              wallet whose token file to use
  WAIAAS_WALLET_NAME            the wallet's name, for display
  WAIAAS_SESSION_TOKEN          token used when the token file is missing
  WAIAAS_RECOVERY_POLL_SECONDS  token file poll while expired (default 60)

Run 'waiaas mcp setup' to create the token and the Claude Desktop entry.
"""

INSTRUCTIONS = (
    "Tools for one self-hosted wallet (Solana or EVM). Amounts are whole numbers of the "
    "asset's smallest unit: lamports for SOL (1 SOL = 1,000,000,000), wei for ETH and POL "
    "(1 ETH = 10^18), a token's base units by its decimals; get_balance and get_assets say "
    "which. A result with session_expired means the wallet owner must run "
    "'waiaas mcp setup'; network_error means the wallet daemon is down."
)


def create_server(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    session_options: dict[str, Any] | None = None,
) -> MCPServer:
    """The MCP server; its lifespan starts the session without waiting for it.

    The HTTP client is made at the first request to the daemon, not here: answering
    ``initialize`` and ``tools/list`` needs neither it nor httpx (``waiaas_core.lazy_http``).
    """

    def make_http() -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(
            base_url=settings.base_url,
            transport=transport,
            headers={"User-Agent": f"waiaas-mcp/{__version__}"},
            verify=uses_tls(settings.base_url),
        )

    http = LazyHttp(make_http)
    session = SessionManager(
        http,
        token_file=settings.token_file,
        env_token=settings.env_token,
        wallet_id=settings.wallet_id,
        recovery_poll=settings.recovery_poll_seconds,
        config_error=settings.config_error,
        **(session_options or {}),
    )
    api = ApiClient(http, session, base_url=settings.base_url)

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[dict[str, Any]]:
        # The SDK enters the lifespan before it answers initialize: loading the token
        # happens beside it, never in front of it.
        async with http, session, anyio.create_task_group() as tg:
            tg.start_soon(session.start)
            yield {}
            tg.cancel_scope.cancel()

    with _sdk_logging_setup_skipped():
        server = MCPServer(
            "waiaas",
            title=f"waiaas wallet{f' {settings.wallet_name}' if settings.wallet_name else ''}",
            version=__version__,
            instructions=INSTRUCTIONS,
            lifespan=lifespan,
        )
    register_agent(server, api, LocalSession(api, session, settings))
    return server


@contextmanager
def _sdk_logging_setup_skipped() -> Iterator[None]:
    """MCPServer() without the SDK's ``configure_logging`` when logging is set up already.

    That function imports rich (when installed: ~50 ms) to build a handler and gives it
    to ``logging.basicConfig``, which does nothing once the root logger has a handler
    (``setup_logging`` gave it ours). Skipping it then changes nothing but the time.
    """
    if not logging.getLogger().handlers or not hasattr(_sdk_server, "configure_logging"):
        yield
        return
    original = _sdk_server.configure_logging
    _sdk_server.configure_logging = _no_logging_setup
    try:
        yield
    finally:
        _sdk_server.configure_logging = original


def _no_logging_setup(*_args: object, **_kwargs: object) -> None:
    return None


def uses_tls(base_url: str) -> bool:
    """Whether the daemon is reached over https, so certificates must be loaded and checked.

    Loading the CA bundle costs ~0.15 s of CPU at every start; a plain-http daemon (the
    default, on loopback) never uses it: every request goes to an absolute URL under
    base_url and redirects are not followed, so no request can switch to https.
    """
    return not base_url.lower().startswith("http://")


async def serve(server: MCPServer) -> None:
    """Serve over stdio until stdin closes or a SIGTERM/SIGINT arrives."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, tg.cancel_scope)
        await _run_stdio(server)
        tg.cancel_scope.cancel()


async def _run_stdio(server: MCPServer) -> None:
    # MCPServer.run_stdio_async would read stdin in a thread no signal can stop and drop
    # unparsable lines unanswered; this is the same call on our transport.
    lowlevel = server._lowlevel_server
    options = lowlevel.create_initialization_options()
    if StdinLines.supported():
        async with stdio_transport() as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, options)  # type: ignore[arg-type]
    else:  # pragma: no cover - stdin is a file or a Windows handle
        async with stdio_server() as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, options)
    log.info("stdin closed; shutting down")


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("%s received; shutting down", signal.Signals(signum).name)
            scope.cancel()
            return


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "--help" in args or "-h" in args:
        sys.stderr.write(USAGE)
        sys.exit(0)
    if "--version" in args:
        sys.stderr.write(f"waiaas-mcp {__version__}\n")
        sys.exit(0)
    if args:
        sys.stderr.write(f"waiaas-mcp: unexpected arguments {args}\n\n{USAGE}")
        sys.exit(2)
    setup_logging()
    settings = Settings.from_env()
    log.info(
        "waiaas-mcp %s starting (daemon %s, wallet %s)",
        __version__,
        settings.base_url,
        settings.wallet_name or settings.wallet_id or "from the legacy token file",
    )
    anyio.run(serve, create_server(settings))
    log.info("Stopped")
