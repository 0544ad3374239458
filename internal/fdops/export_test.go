package fdops

// SetPos empties b and moves both of its free-running counters to pos, so a
// test can place the ring anywhere in its buffer (or near the uint64 wrap)
// without a sequence of writes and reads: Discard rewinds an emptied ring to
// 0, so that state is otherwise unreachable.
func (b *Ring) SetPos(pos uint64) { b.r, b.w = pos, pos }

// Pos returns the ring's read and write counters.
func (b *Ring) Pos() (r, w uint64) { return b.r, b.w }
