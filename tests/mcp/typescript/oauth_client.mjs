import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

// The official TypeScript client's OAuth flow against the daemon's /mcp. The owner's
// browser is the test's: the authorization URL goes out on stdout ("AUTHORIZE <url>"),
// the URL the browser was sent back to comes in on stdin. The result is the last line.
const url = new URL(process.env.MCP_URL);
const redirectUrl = process.env.CALLBACK_URL;
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));

const saved = { client: undefined, tokens: undefined, verifier: undefined, state: undefined };
const refreshes = [];
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return {
      client_name: "TS Agent",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  state() { saved.state = randomBytes(16).toString("hex"); return saved.state; },
  clientInformation() { return saved.client; },
  saveClientInformation(info) { saved.client = info; },
  tokens() { return saved.tokens; },
  saveTokens(tokens) {
    if (saved.tokens) refreshes.push(saved.tokens.refresh_token !== tokens.refresh_token);
    saved.tokens = tokens;
  },
  redirectToAuthorization(authorizationUrl) { console.log(`AUTHORIZE ${authorizationUrl}`); },
  saveCodeVerifier(verifier) { saved.verifier = verifier; },
  codeVerifier() { return saved.verifier; },
};

async function connect() {
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  const client = new Client({ name: "ts-oauth-check", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

let connection;
try {
  connection = await connect();
  throw new Error("connected without authorization");
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
}
const back = new URL(await nextLine());
if (back.searchParams.get("state") !== saved.state) throw new Error("state mismatch");
if (back.searchParams.get("error")) {
  console.log(JSON.stringify({ error: back.searchParams.get("error") }));
  process.exit(0);
}
const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
await first.finishAuth(back.searchParams.get("code"));
connection = await connect();
const tools = await connection.client.listTools();
const address = await connection.client.callTool({ name: "get_address", arguments: {} });
const scope = saved.tokens.scope;
// An access token the daemon no longer accepts: the client refreshes and goes on.
saved.tokens = { ...saved.tokens, access_token: "wai_oat_expired" };
await connection.client.close();
connection = await connect();
const balance = await connection.client.callTool({ name: "get_balance", arguments: {} });
console.log(JSON.stringify({
  tools: tools.tools.map((t) => t.name).sort(),
  address,
  balance,
  scope,
  refreshes,
}));
await connection.client.close();
lines.close();
