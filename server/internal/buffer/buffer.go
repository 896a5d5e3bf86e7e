// Package buffer is Crumb's durable ingest buffer: accepted records are
// appended to a write-ahead log (github.com/tidwall/wal) before the request
// is answered, and a writer inserts them into ClickHouse in batches, by size
// and by time. Records survive a ClickHouse outage and a crash of the
// process: on start-up the log is replayed, and a batch whose insert may
// already have landed is checked against the stored IDs so that nothing is
// written twice.
package buffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/wal"

	"github.com/crumbhq/crumb/server/internal/model"
)

// ErrFull is returned by Append when the buffer holds its maximum number of
// records: the caller answers 503 and the client retries later.
var ErrFull = errors.New("buffer: full")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("buffer: closed")

// Sink is where batches go: the ClickHouse writer. The slices it is given
// are reused once the call returns.
type Sink interface {
	InsertEvents(ctx context.Context, events []model.Event) error
	InsertDecisions(ctx context.Context, ds []model.Decision) error
	InsertImpressions(ctx context.Context, ims []model.Impression) error
	ExistingEventIDs(ctx context.Context, sites []string, from, to time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error)
	ExistingDecisionIDs(ctx context.Context, sites []string, from, to time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error)
	ExistingImpressionIDs(ctx context.Context, sites []string, from, to time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error)
	// Erase carries out visitors' erasure requests, after the rows of the
	// same batch are in. Doing it twice must be harmless: a batch is
	// retried whole.
	Erase(ctx context.Context, es []model.Erasure) error
}

// Observer is told what the buffer does, for metrics. Any method may be
// called from several goroutines.
type Observer interface {
	Depth(n int)
	Inserted(table string, rows int, took time.Duration)
	InsertFailed(table string)
	Deduplicated(table string, rows int)
}

// Options configure a Buffer.
type Options struct {
	// Dir holds the write-ahead log.
	Dir string
	// BatchSize is the most records one insert carries; default 5000.
	BatchSize int
	// FlushInterval is the longest a record waits for a full batch; default 1 s.
	FlushInterval time.Duration
	// SyncInterval is how often the log is fsynced; default 1 s. A record
	// acknowledged since the last sync survives a crash of the process but
	// not a power loss.
	SyncInterval time.Duration
	// MaxRecords is how many unwritten records the buffer holds before
	// Append answers ErrFull; default 1,000,000.
	MaxRecords int
	// RetryMax bounds the back-off between failed inserts; default 5 s.
	RetryMax time.Duration
	// InsertTimeout bounds the writer's insert of one batch; default 60 s.
	InsertTimeout time.Duration
	Log           *slog.Logger
	Observer      Observer
}

// Buffer is the durable ingest buffer.
type Buffer struct {
	opts Options
	sink Sink
	log  *slog.Logger
	obs  Observer
	wal  *wal.Log
	lock *os.File // held while open, so that two processes never share a log

	mu     sync.Mutex // guards closed, the append queue and mem
	closed bool

	// Appends are written to the log in groups (append.go): queue holds the
	// appends waiting for the group being written, writing tells that one
	// is, and appends counts those under way, for Close.
	queue   []*appendReq
	queued  int // records in queue
	writing bool
	appends sync.WaitGroup
	batch   wal.Batch // the group being written; only its writer uses it

	last    atomic.Uint64 // index of the newest appended record
	flushed atomic.Uint64 // every record up to here is in ClickHouse

	// mem holds the newest records, decoded, for indexes memStart onwards,
	// so that the writer reads the log only when replaying or after more
	// than memCap records piled up. Guarded by mu.
	mem      []Record
	memStart uint64
	memCap   int

	// marks tell when records were appended, oldest first: the records
	// after the previous mark's index up to last, at about at. Guarded by mu.
	marks []appendMark

	lastTruncate time.Time
	// suspect is the newest index whose insert may already have landed: the
	// records replayed at start-up, and any batch after a failed insert.
	suspect uint64

	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	flushMu sync.Mutex
	rows    rows // the batch being written; guarded by flushMu
}

// Open opens (or creates) the log in opts.Dir, and starts the writer.
func Open(opts Options, sink Sink) (*Buffer, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = 1_000_000
	}
	if opts.InsertTimeout <= 0 {
		opts.InsertTimeout = time.Minute
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("buffer: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	l, err := wal.Open(opts.Dir, &wal.Options{
		NoSync: true, // synced every SyncInterval instead
		// The log keeps its newest segment in memory, growing it entry by
		// entry: small segments keep that copying in the CPU's caches and
		// the memory small, for one more fsync every 2 MB.
		SegmentSize:      2 << 20,
		SegmentCacheSize: 1,
		NoCopy:           true, // Read's entry is decoded at once, and the decoder copies what it keeps
		AllowEmpty:       true,
		DirPerms:         0o700,
		FilePerms:        0o600,
	})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("buffer: open log %s: %w", opts.Dir, err)
	}
	first, err1 := l.FirstIndex()
	last, err2 := l.LastIndex()
	if err := errors.Join(err1, err2); err != nil {
		l.Close()
		lock.Close()
		return nil, fmt.Errorf("buffer: %w", err)
	}
	b := &Buffer{
		opts: opts, sink: sink, log: opts.Log, obs: opts.Observer, wal: l, lock: lock,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	b.last.Store(last)
	flushed := first - 1
	if cp, ok := readCheckpoint(opts.Dir); ok && cp > flushed && cp <= last {
		flushed = cp
	}
	b.flushed.Store(flushed)
	b.suspect = last
	b.memCap = 4 * opts.BatchSize
	b.memStart = last + 1
	if n := last - flushed; n > 0 {
		b.log.Info("replaying buffered records", "records", n)
	}
	b.obs.Depth(b.Depth())
	go b.run()
	return b, nil
}

// Depth is the number of records not yet written to ClickHouse.
func (b *Buffer) Depth() int { return int(b.last.Load() - b.flushed.Load()) }

// Full reports whether Append would answer ErrFull.
func (b *Buffer) Full() bool { return b.Depth() >= b.opts.MaxRecords }

// Flush writes every buffered record to ClickHouse now, retrying until ctx
// ends.
func (b *Buffer) Flush(ctx context.Context) error {
	for b.Depth() > 0 {
		if err := b.flushBatch(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("buffer: flush: %w (last error: %v)", ctx.Err(), err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("buffer: flush: %w", ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// Close stops accepting records, writes what is buffered (until ctx ends;
// what is left stays in the log for the next start) and closes the log.
func (b *Buffer) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.appends.Wait()
	close(b.stop)
	<-b.stopped
	ferr := b.Flush(ctx)
	if ferr != nil {
		b.log.Warn("buffer closed with records left in the log; they are written at the next start", "records", b.Depth(), "err", ferr)
	}
	return errors.Join(ferr, b.wal.Sync(), b.wal.Close(), b.lock.Close())
}

// run is the writer: it inserts a batch when BatchSize records wait or the
// oldest has waited FlushInterval, and syncs the log every SyncInterval.
func (b *Buffer) run() {
	defer close(b.stopped)
	flushTimer := time.NewTimer(b.opts.FlushInterval)
	syncTick := time.NewTicker(b.opts.SyncInterval)
	defer flushTimer.Stop()
	defer syncTick.Stop()
	backoff := 100 * time.Millisecond
	// Stopping does not cancel an insert under way: one cut off after
	// its rows reached the server would be retried and stored twice, so
	// Close waits for it (each insert is bounded by InsertTimeout).
	ctx := context.Background()
	for {
		select {
		case <-b.stop:
			return
		case <-syncTick.C:
			if err := b.wal.Sync(); err != nil {
				b.log.Error("buffer: sync log", "err", err)
			}
			continue
		case <-flushTimer.C:
		case <-b.wake:
		}
		for b.Depth() > 0 {
			if b.Depth() < b.opts.BatchSize && time.Until(b.due()) > 0 {
				break // wait for a fuller batch
			}
			fctx, cancel := context.WithTimeout(ctx, b.opts.InsertTimeout)
			err := b.flushBatch(fctx)
			cancel()
			if err != nil {
				b.log.Warn("buffer: insert failed; retrying", "err", err, "in", backoff, "buffered", b.Depth())
				select {
				case <-b.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, b.opts.RetryMax)
				continue
			}
			backoff = 100 * time.Millisecond
		}
		wait := b.opts.FlushInterval
		if b.Depth() > 0 {
			wait = max(time.Until(b.due()), time.Millisecond)
		}
		flushTimer.Reset(wait)
	}
}

// markGrain is how close in time appends share one mark.
const markGrain = 20 * time.Millisecond

// mark notes that the records up to index last were appended now. The
// caller holds mu.
func (b *Buffer) mark(last uint64) {
	now := time.Now()
	if n := len(b.marks); n > 0 && now.Sub(b.marks[n-1].at) < markGrain {
		b.marks[n-1].last = last
		return
	}
	b.marks = append(b.marks, appendMark{last: last, at: now})
}

// due is when the oldest buffered record has waited FlushInterval. Records
// replayed from the log are due at once.
func (b *Buffer) due() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.marks) == 0 || b.marks[0].last <= b.flushed.Load() {
		return time.Time{}
	}
	return b.marks[0].at.Add(b.opts.FlushInterval)
}

// flushBatch writes the oldest batch of records to the sink and drops them
// from the log.
func (b *Buffer) flushBatch(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	from := b.flushed.Load() + 1
	to := min(b.last.Load(), from+uint64(b.opts.BatchSize)-1)
	if to < from {
		return nil
	}
	rs := &b.rows
	defer rs.reset()
	b.mu.Lock()
	mem, memStart := b.mem, b.memStart
	b.mu.Unlock()
	for i := from; i <= to; i++ {
		if i >= memStart && i < memStart+uint64(len(mem)) {
			rs.add(&mem[i-memStart])
			continue
		}
		data, err := b.wal.Read(i)
		if err != nil {
			return fmt.Errorf("buffer: read log entry %d: %w", i, err)
		}
		if err := rs.decode(data); err != nil {
			b.log.Error("buffer: skipping undecodable log entry", "index", i, "err", err)
		}
	}
	suspect := from <= b.suspect
	err := errors.Join(
		write(ctx, b, "events", suspect, rs.events, eventKey, b.sink.ExistingEventIDs, b.sink.InsertEvents),
		write(ctx, b, "consent_decisions", suspect, rs.decisions, decisionKey, b.sink.ExistingDecisionIDs, b.sink.InsertDecisions),
		write(ctx, b, "consent_impressions", suspect, rs.impressions, impressionKey, b.sink.ExistingImpressionIDs, b.sink.InsertImpressions),
	)
	if err == nil && len(rs.erasures) > 0 {
		// After the inserts: an erasure also removes what its visitor
		// sent just before it.
		err = b.sink.Erase(ctx, rs.erasures)
	}
	if err != nil {
		// Part of the batch may have landed: check IDs when it is retried.
		b.suspect = max(b.suspect, to)
		return err
	}
	b.flushed.Store(to)
	if err := writeCheckpoint(b.opts.Dir, to); err != nil {
		b.log.Error("buffer: write checkpoint", "err", err)
	}
	b.mu.Lock()
	i := 0
	for i < len(b.marks) && b.marks[i].last <= to {
		i++
	}
	b.marks = b.marks[i:]
	if b.memStart <= to {
		drop := min(int(to-b.memStart+1), len(b.mem))
		clear(b.mem[:drop])
		b.mem = b.mem[drop:]
		b.memStart = to + 1
	}
	b.mu.Unlock()
	b.truncate(to)
	b.obs.Depth(b.Depth())
	return nil
}

// truncate drops written records from the log. Dropping everything is
// cheap; dropping the front of a segment rewrites the rest of it, so that is
// done at most every truncateEvery, the checkpoint covering the meantime.
func (b *Buffer) truncate(to uint64) {
	if to < b.last.Load() && time.Since(b.lastTruncate) < truncateEvery {
		return
	}
	if err := b.wal.TruncateFront(to + 1); err != nil {
		b.log.Error("buffer: truncate log", "err", err)
		return
	}
	b.lastTruncate = time.Now()
}

const truncateEvery = 30 * time.Second

const checkpointFile = "FLUSHED"

// writeCheckpoint records that every record up to index is in ClickHouse.
func writeCheckpoint(dir string, index uint64) error {
	tmp := filepath.Join(dir, checkpointFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(index, 10)), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, checkpointFile))
}

func readCheckpoint(dir string) (uint64, bool) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

type appendMark struct {
	last uint64
	at   time.Time
}

type key struct {
	id   uuid.UUID
	site string
	ts   time.Time
}

func eventKey(e *model.Event) key           { return key{e.ID, e.SiteID, e.Time} }
func decisionKey(d *model.Decision) key     { return key{d.ID, d.SiteID, d.Time} }
func impressionKey(i *model.Impression) key { return key{i.ID, i.SiteID, i.Time} }

type existingFunc func(ctx context.Context, sites []string, from, to time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error)

// write inserts rows into one table. For a suspect batch it first drops the
// rows whose IDs are already stored.
func write[T any](ctx context.Context, b *Buffer, table string, suspect bool, rows []T, keyOf func(*T) key,
	existing existingFunc, insert func(context.Context, []T) error) error {
	if len(rows) == 0 {
		return nil
	}
	if suspect {
		var (
			ids      []uuid.UUID
			sites    []string
			seen     = map[string]bool{}
			from, to time.Time
		)
		for i := range rows {
			k := keyOf(&rows[i])
			ids = append(ids, k.id)
			if !seen[k.site] {
				seen[k.site] = true
				sites = append(sites, k.site)
			}
			if from.IsZero() || k.ts.Before(from) {
				from = k.ts
			}
			if k.ts.After(to) {
				to = k.ts
			}
		}
		found, err := existing(ctx, sites, from, to, ids)
		if err != nil {
			return err
		}
		if len(found) > 0 {
			kept := rows[:0:0]
			for i := range rows {
				if !found[keyOf(&rows[i]).id] {
					kept = append(kept, rows[i])
				}
			}
			b.obs.Deduplicated(table, len(rows)-len(kept))
			rows = kept
		}
		if len(rows) == 0 {
			return nil
		}
	}
	start := time.Now()
	if err := insert(ctx, rows); err != nil {
		b.obs.InsertFailed(table)
		return err
	}
	b.obs.Inserted(table, len(rows), time.Since(start))
	return nil
}

type nopObserver struct{}

func (nopObserver) Depth(int)                           {}
func (nopObserver) Inserted(string, int, time.Duration) {}
func (nopObserver) InsertFailed(string)                 {}
func (nopObserver) Deduplicated(string, int)            {}

// lockDir takes an exclusive lock on dir, released when the returned file
// is closed or the process dies.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("buffer: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("buffer: %s is in use by another crumb process (each node needs a data folder of its own): %w", dir, err)
	}
	return f, nil
}
