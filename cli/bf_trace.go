package cli

import (
	"io"
	"net/url"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/inspect"
)

// bfTracer returns the recorder that traces what passes through a fake Bot Framework service on w, in the
// format of the packets' trace (inspect.Options.Trace): "<--" each call made to the service (a reply, a new
// conversation, a token request), "-->" each activity it posts to a bot's webhook, with the URL, the body
// (JSON as JSON, a token request's form as sent), the answer and the time. The bots' app secrets are
// masked wherever they appear, as sent and URL-encoded (a token request's client_secret), and so are the
// values of secret keys (access_token); headers, where the bearer tokens travel, are never kept.
func bfTracer(w io.Writer, clk clock.Clock, bots [][2]string) *inspect.Recorder {
	var secrets []string
	for _, b := range bots {
		secrets = append(secrets, b[1], url.QueryEscape(b[1]))
	}
	return inspect.NewRecorder(inspect.Options{Packets: 1, Clock: clk, Secrets: secrets, Trace: w, Requests: true})
}
