#!/usr/bin/env node
// Redraws the chart from a results file: node bench/chart.js [RESULTS.json] [OUT.svg]
// (defaults: bench/results/latest.json -> docs/benchmarks.svg).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, root } from './lib/paths.js';
import { renderChart } from './lib/svg.js';

const [input = join(benchDir, 'results', 'latest.json'), output = join(root, 'docs', 'benchmarks.svg')] = process.argv.slice(2);
writeFileSync(output, renderChart(JSON.parse(readFileSync(input, 'utf8'))));
process.stderr.write(`wrote ${output}\n`);
