// `cargo xtask bench simulate`: makes every Artillery virtual user stay connected
// until the end of the run, as Sockscope's simulator does (its clients all leave at
// `duration` after the run's start), instead of a fixed `think` after its own
// arrival. The run's start is this worker's first virtual user; the hold is
// SOCKSCOPE_HOLD_S seconds from there. CommonJS because Artillery `require`s it.
let first = 0;

function holdUntilEnd(context, _events, done) {
  const now = Date.now();
  if (first === 0) first = now;
  const holdMs = Number(process.env.SOCKSCOPE_HOLD_S || "0") * 1000;
  context.vars.holdMs = `${Math.max(0, first + holdMs - now)}ms`;
  return done();
}

module.exports = { holdUntilEnd };
