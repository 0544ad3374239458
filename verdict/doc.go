// Package verdict names a pipeline's bottleneck from the evidence pipeloop
// collects: how long each relayed pipe sat full or empty, how much CPU each
// stage and pipeloop's own loop thread used, and, when tracing is on, how
// long the kernel saw each stage blocked on a pipe.
//
// # Reasoning
//
// A link that sits empty is waiting for its upstream stage; a link that sits
// full is waiting for its downstream stage. In a chain limited by one stage,
// every link before it sits full (backpressure) and every link after it sits
// empty (starvation), so the bottleneck is the stage whose input pipe is not
// empty and whose output pipe is not full, with positive evidence: its input
// sat full, its output sat empty, or it used most of a core. A stage whose
// input sits empty is starved and a stage whose output sits full is held
// back; neither is the limit, whatever its CPU use. The stage's CPU share
// (user+system over wall time) then says why it is slow: computing, or
// waiting on something pipeloop cannot see (sleep, disk, network).
//
// pipeloop itself is the limit when no link sits full or empty and its loop
// thread used most of one core: it is busy moving bytes that both sides are
// ready for.
//
// # Contract
//
// Judge is a pure function of its Input. It says KindUnknown when the run
// was too short or nothing was measured, and KindNone when there was enough
// evidence but nothing dominated or it pointed at more than one place; it
// never names a stage without a link or a CPU reading that clears the
// thresholds below, which are deliberately conservative.
package verdict
