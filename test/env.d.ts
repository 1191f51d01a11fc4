declare namespace Cloudflare {
  interface Env extends import('../src/env').Env {
    MCP_ORIGIN: string
    API_ORIGIN: string
    UPSTREAM_TOKEN: string
  }
}
