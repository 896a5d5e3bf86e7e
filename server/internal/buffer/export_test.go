package buffer

// EncodeForTest and DecodeForTest expose the log entry codec to the tests.
func EncodeForTest(r *Record) ([]byte, error) { return r.encode() }

// DecodeForTest decodes one log entry.
func DecodeForTest(data []byte) (Record, error) {
	var r Record
	err := r.decode(data)
	return r, err
}
