// A Model Context Protocol client for paved's e2e tests: the official
// TypeScript SDK over Streamable HTTP, as an AI agent connects to
// Backstage's mcp-actions plugin. Usage:
//   node mcp-client.js <url> <token> list
//   node mcp-client.js <url> <token> call <tool> '<json arguments>'
// Prints the SDK's result as JSON; exits 1 with the error on stderr.
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const {
  StreamableHTTPClientTransport,
} = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

async function main() {
  const [url, token, command, tool, args] = process.argv.slice(2);
  const client = new Client({ name: 'paved-e2e', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  const out =
    command === 'list'
      ? await client.listTools()
      : await client.callTool({ name: tool, arguments: JSON.parse(args || '{}') });
  process.stdout.write(JSON.stringify(out));
  await client.close();
}

main().catch(err => {
  process.stderr.write(String((err && err.stack) || err));
  process.exit(1);
});
