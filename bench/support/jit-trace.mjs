// Preloaded (`--import`) into a Node hub by `bench/profile-tasks.ts --trace-jit`: on SIGUSR2 (sent
// as the timed run starts) V8 begins tracing its optimizing compiles and deoptimizations into
// $AGENTCOM_JIT_TRACE_FILE, so the trace holds the timed run only (Node refuses V8's trace flags
// in NODE_OPTIONS; V8 reads them when it compiles, so setting them late works).
import v8 from 'node:v8'

const file = process.env.AGENTCOM_JIT_TRACE_FILE
if (file) {
  process.on('SIGUSR2', () => {
    v8.setFlagsFromString('--redirect-code-traces')
    v8.setFlagsFromString(`--redirect-code-traces-to=${file}`)
    v8.setFlagsFromString('--trace-opt')
    v8.setFlagsFromString('--trace-deopt')
  })
}
