#!/usr/bin/env node
import { watchStandardStreams } from "./output.js";
import { runCli } from "./parse.js";
import { buildProgram } from "./program.js";

watchStandardStreams();
await runCli(buildProgram(), process.argv);
