package buffer

import (
	"errors"
	"fmt"
	"sync"
)

// An append is encoded before it queues, and written to the log together
// with every append that queued while the previous group was being written:
// one log write (one system call) for many requests, and no request holds
// the lock while the log is written. Append still returns only once its
// own records are in the log.

// appendReq is one call of Append.
type appendReq struct {
	recs []Record
	data []byte // the log entries of recs, back to back
	ends []int  // where each entry ends in data
	done chan error
}

var appendReqs = sync.Pool{New: func() any { return &appendReq{done: make(chan error, 1)} }}

// errLead hands the writing of the queue over to the append it is sent to.
var errLead = errors.New("buffer: write the queue")

// Append writes records to the log as one unit. When it returns nil they are
// durable against a crash of the process and will reach ClickHouse.
func (b *Buffer) Append(recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	req := appendReqs.Get().(*appendReq)
	defer req.release()
	req.recs = recs
	for i := range recs {
		var err error
		if req.data, err = recs[i].appendTo(req.data); err != nil {
			return fmt.Errorf("buffer: encode: %w", err)
		}
		req.ends = append(req.ends, len(req.data))
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.Depth()+b.queued+len(recs) > b.opts.MaxRecords {
		b.mu.Unlock()
		return ErrFull
	}
	b.appends.Add(1)
	defer b.appends.Done()
	b.queue = append(b.queue, req)
	b.queued += len(recs)
	if b.writing {
		b.mu.Unlock()
		if err := <-req.done; err != errLead {
			return err
		}
		b.mu.Lock()
	}
	b.writing = true
	// This append writes the queue, which holds it.
	group := b.queue
	b.queue = nil
	b.mu.Unlock()

	last, err := b.writeGroup(group)

	b.mu.Lock()
	next := b.last.Load() + 1
	for _, r := range group {
		if err == nil {
			b.remember(r.recs, next)
		}
		next += uint64(len(r.recs))
		b.queued -= len(r.recs)
	}
	if err == nil {
		b.last.Store(last)
		b.mark(last)
	}
	if len(b.queue) > 0 {
		b.queue[0].done <- errLead
	} else {
		b.writing = false
	}
	depth := b.Depth()
	b.mu.Unlock()

	var own error
	for _, r := range group {
		if r == req {
			own = err
		} else {
			r.done <- err
		}
	}

	b.obs.Depth(depth)
	if depth >= b.opts.BatchSize {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return own
}

// writeGroup writes the entries of group to the log in one batch and
// returns the index of the last. Only the append that writes the queue
// calls it.
func (b *Buffer) writeGroup(group []*appendReq) (uint64, error) {
	idx := b.last.Load()
	b.batch.Clear()
	for _, r := range group {
		start := 0
		for _, end := range r.ends {
			idx++
			b.batch.Write(idx, r.data[start:end])
			start = end
		}
	}
	if err := b.wal.WriteBatch(&b.batch); err != nil {
		return 0, fmt.Errorf("buffer: write log: %w", err)
	}
	return idx, nil
}

// remember keeps recs, whose first index is first, in mem for the writer,
// unless mem is full or does not reach up to them. The caller holds mu.
func (b *Buffer) remember(recs []Record, first uint64) {
	if b.memStart+uint64(len(b.mem)) == first && len(b.mem)+len(recs) <= b.memCap {
		b.mem = append(b.mem, recs...)
	} else if len(b.mem) == 0 {
		b.memStart = first + uint64(len(recs)) // the writer takes these from the log
	}
}

func (r *appendReq) release() {
	r.recs = nil
	if cap(r.data) > 256<<10 {
		return // keep the pool small after a huge append
	}
	r.data, r.ends = r.data[:0], r.ends[:0]
	appendReqs.Put(r)
}
