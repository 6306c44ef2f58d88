package storefront

import (
	"net/http"

	"veil/pages"
)

// noticesPage is GET /notices: the merchant's signed notices and the key
// that signs them (the same fingerprint as every footer).
func (s *Server) noticesPage(w http.ResponseWriter, r *http.Request) {
	items, err := s.Shop.Notices()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page := &pages.Notices{Base: s.Base(r, s.Lang(r)), Items: items}
	s.Render(w, r, http.StatusOK, page)
}
