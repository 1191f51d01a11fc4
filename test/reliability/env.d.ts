// The reliability suite's extra binding (vitest.reliability.config.ts) and the
// per-test counts its reporter reads (test/reliability/report.ts).
declare namespace Cloudflare {
  interface Env {
    FAULT_ORIGIN: string
    FC_SEED: string
    FC_SCALE: string
  }
}
