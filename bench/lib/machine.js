// What machine a result came from: cores, CPU, kernel, OS, Node and Bun versions.
import { readFileSync } from 'node:fs';
import os from 'node:os';

function osName() {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

export function machineInfo({ bun } = {}) {
  const cpus = os.cpus();
  return {
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpu: cpus[0]?.model?.replace(/\s+/g, ' ').trim() ?? null,
    kernel: os.release(),
    os: osName(),
    arch: process.arch,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    bun: bun ?? null,
  };
}

/** "2 cores, Linux 6.1.0, Node v20.20.2, Bun 1.2.0" */
export function describeMachine(machine) {
  const parts = [`${machine.cores} cores`];
  if (machine.cpu) parts.push(machine.cpu);
  parts.push(`Linux ${machine.kernel}`);
  parts.push(`Node ${machine.node}`);
  if (machine.bun) parts.push(`Bun ${machine.bun}`);
  return parts.join(', ');
}
