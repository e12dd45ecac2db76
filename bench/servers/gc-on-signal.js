// Preloaded (node --expose-gc --import) into every Node server of the benchmark: SIGUSR2 runs
// full garbage collections. The idle-memory workload sends it before each RSS reading so a
// reading counts live memory, not garbage that a later collection would free. Several in a
// row, because V8 shrinks its heap only after a few collections that find little alive: with
// one per signal, RSS still fell by 1.5 MB at the fifth signal; with six it settles at once.
// Without this hook SIGUSR2 would kill the process, so the runner signals only servers that
// have it.
process.on('SIGUSR2', () => {
  for (let i = 0; i < 6; i++) globalThis.gc?.();
});
