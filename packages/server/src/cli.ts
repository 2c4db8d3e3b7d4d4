// The `keybrake` bin: `keybrake serve`, `keybrake keys issue|show|revoke`, `keybrake audit`.
import { runCli } from './cli/run-cli.js';

process.exitCode = await runCli({
  argv: process.argv.slice(2),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
