package server

import (
	"net/http"
	"slices"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
)

// apiStaffList is GET /api/v1/admin/staff: members and the two-person
// settings.
func (s *Server) apiStaffList(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	users, err := s.staff.Users()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if users == nil {
		users = []staff.User{}
	}
	two := map[staff.Kind]bool{}
	for _, k := range staff.Kinds() {
		if k == staff.KindPaymentReturn {
			continue // ruled by the refund switch: money leaving the shop
		}
		on, err := s.staff.TwoPerson(k)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		two[k] = on
	}
	writeJSON(w, http.StatusOK, struct {
		Staff     []staff.User        `json:"staff"`
		TwoPerson map[staff.Kind]bool `json:"two_person"`
	}{users, two})
}

// staffPage is GET /admin/staff: members with role and removal forms, the
// add form and the two-person settings; every change goes through an
// approval.
func (s *Server) staffPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	users, err := s.staff.Users()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lang := s.lang(r)
	page := &pages.AdminStaff{AdminBase: s.adminBase(r, &sess, "staff", "")}
	for _, role := range []staff.Role{staff.RoleSupport, staff.RoleOwner} {
		page.Roles = append(page.Roles, pages.Choice{Value: string(role), Label: s.pages.T(lang, "admin.role."+string(role))})
	}
	for _, u := range users {
		page.Users = append(page.Users, pages.AdminUser{
			Name: u.Name, Role: string(u.Role), RoleText: s.pages.T(lang, "admin.role."+string(u.Role)),
			Enrolled: u.Enrolled, RecoveryLeft: u.RecoveryLeft, CreatedAt: u.CreatedAt, CreatedBy: u.CreatedBy,
			Self: u.Name == sess.User,
		})
	}
	for _, k := range staff.Kinds() {
		if k == staff.KindPaymentReturn {
			continue // ruled by the refund switch: money leaving the shop
		}
		on, err := s.staff.TwoPerson(k)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		page.Settings = append(page.Settings, pages.KindSetting{Kind: string(k), Label: s.kindText(lang, k), TwoPerson: on})
	}
	if s.staff.CanDecide(sess.Role, staff.KindSettings) {
		page.ShopSettings = &pages.ShopSettings{TimeZone: s.shop.TimeZone(), RetentionDays: s.shop.RetentionDays(),
			MinDays: shop.MinRetentionDays, MaxDays: shop.MaxRetentionDays}
		if s.payments.monero() != nil {
			rates, err := s.shop.XMRRates()
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			page.ShopSettings.XMR = true
			for c, minor := range rates {
				page.ShopSettings.XMRRates = append(page.ShopSettings.XMRRates, c+" "+pages.Money(minor, c))
			}
			slices.Sort(page.ShopSettings.XMRRates)
		}
	}
	s.render(w, r, http.StatusOK, page)
}
