package inspect

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// cookieName holds the token in the browser once it was given in the URL.
const cookieName = "olctl_inspect"

// Guard lets a request through to h only when it may see the inspector. Without a token: a request from a
// loopback address whose Host is a loopback name or address (so that a page of another site cannot reach
// the inspector by making its own name resolve to 127.0.0.1). With a token: a request that carries it, as
// "Authorization: Bearer TOKEN", in the cookie the page sets, or once as ?token=TOKEN, which sets the
// cookie (HttpOnly, SameSite=Strict) and redirects to the same URL without it. Others get 403 (no token
// configured) or 401.
func Guard(h http.Handler, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			if !loopbackRemote(r.RemoteAddr) || !loopbackHost(r.Host) {
				http.Error(w, "the inspector answers on loopback only (start it with a token to open it to other hosts)",
					http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query(); q.Has("token") {
			if !same(q.Get("token"), token) {
				http.Error(w, "wrong inspector token", http.StatusUnauthorized)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		got := ""
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			got = strings.TrimPrefix(a, "Bearer ")
		} else if c, err := r.Cookie(cookieName); err == nil {
			got = c.Value
		}
		if !same(got, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="olctl inspector"`)
			http.Error(w, "the inspector needs its token: open it once with ?token=TOKEN", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func loopbackRemote(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackHost reports whether a Host header names this machine's loopback: localhost, *.localhost, or a
// loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackAddr reports whether a listen address (host:port) listens on loopback only: an empty host (every
// interface) does not.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	return loopbackHost(host)
}
