import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

// The daemon's /mcp over Streamable HTTP, with the session token as a bearer.
const transport = new StreamableHTTPClientTransport(new URL(process.env.MCP_URL), {
  requestInit: { headers: { Authorization: `Bearer ${process.env.MCP_TOKEN}` } },
});
const client = new Client({ name: "ts-http-check", version: "1.0.0" });
await client.connect(transport);
const tools = await client.listTools();
const resources = await client.listResources();
const address = await client.callTool({ name: "get_address", arguments: {} });
const read = await client.readResource({ uri: "waiaas://wallet/address" });
console.log(JSON.stringify({
  server: client.getServerVersion(),
  tools: tools.tools.map((t) => t.name).sort(),
  resources: resources.resources.map((r) => r.uri).sort(),
  address: address,
  resource: read.contents[0],
}));
await client.close();
