//go:build linux

package relay

// ProxyConfig joins two connected sockets both ways (see NewProxy).
type ProxyConfig struct {
	// A and B are the two sockets, typically an accepted client and a
	// connection to a backend. Owned ones are closed once both directions
	// are done.
	A, B Endpoint
	// AToB and BToA, when set, transform the bytes going each way on a
	// worker goroutine (see LinkConfig.Transform).
	AToB, BToA Transformer
	// OnDone runs once, on the loop goroutine, when both directions are
	// done: the one completion of the proxy.
	OnDone func(*Proxy)
}

// Proxy is two links over one pair of sockets, A → B and B → A, that end
// together: each direction is half-closed on its own at end of file (the
// sink is shut down for writing, the other direction goes on), but a
// direction that fails — an error, or a reset peer — closes the other at
// once, so one side's failure never leaves the other waiting. Loop
// goroutine only, like Link.
type Proxy struct {
	ab, ba *Link
	open   int // links not yet done
	onDone func(*Proxy)
}

// NewProxy starts relaying A to B and B to A. Loop goroutine only. On
// error nothing runs and the Owned endpoints are closed.
func (r *Relay) NewProxy(cfg ProxyConfig) (*Proxy, error) {
	p := &Proxy{onDone: cfg.OnDone}
	cfg.A.name()
	cfg.B.name()
	ab, err := r.NewLink(LinkConfig{Src: cfg.A, Dst: cfg.B, Transform: cfg.AToB, OnDone: p.linkDone})
	if err != nil {
		for _, e := range []Endpoint{cfg.A, cfg.B} {
			if e.Owned {
				r.closeOwned(e.FD)
			}
		}
		return nil, err
	}
	ba, err := r.NewLink(LinkConfig{Src: cfg.B, Dst: cfg.A, Transform: cfg.BToA, OnDone: p.linkDone})
	if err != nil {
		// ab owns the fds now (if owned): closing it releases them.
		p.onDone = nil
		ab.onDone = nil
		ab.Close()
		return nil, err
	}
	p.ab, p.ba, p.open = ab, ba, 2
	return p, nil
}

func (p *Proxy) linkDone(k *Link) {
	p.open--
	if p.open == 0 {
		if p.onDone != nil {
			p.onDone(p)
		}
		return
	}
	if st := &k.stats; st.Err != nil || st.SinkClosed {
		p.other(k).Close()
	}
}

func (p *Proxy) other(k *Link) *Link {
	if k == p.ab {
		return p.ba
	}
	return p.ab
}

// Close ends both directions now (see Link.Close); OnDone runs after the
// calling callback.
func (p *Proxy) Close() {
	if p.ab != nil {
		p.ab.r.l.AssertLoopThread("relay.Proxy.Close")
	}
	p.ab.Close()
	p.ba.Close()
}

// Done reports whether both directions are done.
func (p *Proxy) Done() bool { return p.open == 0 }

// AToB and BToA are the links of each direction, for their Stats.
func (p *Proxy) AToB() *Link { return p.ab }
func (p *Proxy) BToA() *Link { return p.ba }

// Err is the first direction's error, or nil: both ended at end of file,
// by Close, or because a peer went away.
func (p *Proxy) Err() error {
	if err := p.ab.stats.Err; err != nil {
		return err
	}
	return p.ba.stats.Err
}
