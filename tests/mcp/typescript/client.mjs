import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = JSON.parse(process.env.MCP_COMMAND);
const transport = new StdioClientTransport({ command, args, env: JSON.parse(process.env.MCP_ENV), stderr: "pipe" });
const client = new Client({ name: "ts-check", version: "1.0.0" });
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
