package emulator

import "net/http"

func (e *Emulator) serveAPI7(w *recorder, r *http.Request, body []byte, identity string) {
	nginxPage(w, r, http.StatusNotFound)
}
