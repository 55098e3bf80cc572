package bftest

import (
	"net/http"
	"strconv"
)

type attachment struct {
	contentType string
	data        []byte
}

// AddAttachment stores a file as the Connector service keeps the files users send on Skype and Teams, and
// returns its URL ({ServiceURL}v3/attachments/{id}/views/original), for an activity's attachment contentUrl.
// Downloading it needs the bot's access token, as on the real service (unless NoAuth).
func (s *Server) AddAttachment(contentType string, data []byte) string {
	id := "0-" + randomHex(8)
	s.mu.Lock()
	s.attachments[id] = attachment{contentType: contentType, data: append([]byte(nil), data...)}
	s.mu.Unlock()
	return s.ServiceURL() + "v3/attachments/" + id + "/views/original"
}

func (s *Server) serveAttachment(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Correlating-OperationId", randomHex(16))
	if s.applyFailure(w, r, s.takeFailure(EndpointAttachments)) {
		return
	}
	if _, err := s.authorize(r); err != nil {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request. "+err.Error())
		return
	}
	s.mu.Lock()
	a, ok := s.attachments[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || r.PathValue("view") != "original" {
		writeError(w, http.StatusNotFound, "NotFound", "bftest: no such attachment")
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.data)))
	_, _ = w.Write(a.data)
}
