package openlines

// TestConnectAnswer is the DATA of the answer to testConnect (docs/protocol.md §5): {"RESULT":"OK"}, what a
// legacy Bitrix portal answers and this project answers in both profiles. Readers judge testConnect by OK
// alone.
type TestConnectAnswer struct {
	Result string `json:"RESULT"`
}
