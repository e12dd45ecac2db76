// Child processes for the benchmark: servers that announce `listening ... HOST:PORT`, tools
// that print JSON lines, and /proc readings. Every wait here has a time limit, and every
// process started here is stopped by its own pid.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LISTENING = /^listening (tcp|udp) (\S+):(\d+)\b/;

/** Splits a stream into lines and calls onLine for each complete one. */
function lines(stream, onLine) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (text) => {
    rest += text;
    let at;
    while ((at = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, at);
      rest = rest.slice(at + 1);
      onLine(line);
    }
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
}

/**
 * Starts a server and resolves once it prints its `listening` line:
 * { child, pid, host, port, stderr() }. Rejects (after stopping it) when it exits first or
 * does not announce itself within timeoutMs.
 */
export function startServer({ cmd, args, env, cwd, timeoutMs = 10_000 }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let settled = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      if (stderr.length < 8192) stderr += text;
    });
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(new Error(`${why}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
    };
    const timer = setTimeout(() => fail(`${cmd} did not print a listening line within ${timeoutMs} ms`), timeoutMs);
    child.on('error', (error) => fail(`cannot start ${cmd}: ${error.message}`));
    child.on('exit', (code, signal) => fail(`${cmd} exited (${signal ?? code}) before listening`));
    lines(child.stdout, (line) => {
      const match = LISTENING.exec(line);
      if (!match || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        child,
        pid: child.pid,
        host: match[2],
        port: Number(match[3]),
        stderr: () => stderr,
      });
    });
  });
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
export function stopServer(server, graceMs = 1000) {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Runs a tool to completion within timeoutMs (then SIGKILL). onLine sees each stdout line as
 * it arrives, with the child, so a caller can react (write to its stdin) mid-run.
 * Resolves { code, signal, stdout, stderr, timedOut }.
 */
export function runTool(cmd, args, { timeoutMs, onLine, stdin = 'ignore', env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      if (stderr.length < 65536) stderr += text;
    });
    lines(child.stdout, (line) => {
      stdout += `${line}\n`;
      onLine?.(line, child);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}${error.message}`, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Resident set size of a process in bytes (VmRSS of /proc/PID/status), or null. */
export function readRss(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
