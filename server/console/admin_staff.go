package console

import (
	"net/http"
	"slices"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// apiStaffList is GET /api/v1/admin/staff: members and the two-person
// settings.
func (s *Server) apiStaffList(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	users, err := s.Staff.Users()
	if err != nil {
		s.WriteError(w, r, err)
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
		on, err := s.Staff.TwoPerson(k)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		two[k] = on
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Staff     []staff.User        `json:"staff"`
		TwoPerson map[staff.Kind]bool `json:"two_person"`
	}{users, two})
}

// staffPage is GET /admin/staff: members with role and removal forms, the
// add form and the two-person settings; every change goes through an
// approval.
func (s *Server) staffPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	users, err := s.Staff.Users()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminStaff{AdminBase: s.adminBase(r, &sess, "staff", "")}
	for _, role := range []staff.Role{staff.RoleSupport, staff.RoleOwner} {
		page.Roles = append(page.Roles, pages.Choice{Value: string(role), Label: s.Pages.T(lang, "admin.role."+string(role))})
	}
	for _, u := range users {
		page.Users = append(page.Users, pages.AdminUser{
			Name: u.Name, Role: string(u.Role), RoleText: s.Pages.T(lang, "admin.role."+string(u.Role)),
			Enrolled: u.Enrolled, RecoveryLeft: u.RecoveryLeft, CreatedAt: u.CreatedAt, CreatedBy: u.CreatedBy,
			Self: u.Name == sess.User,
		})
	}
	for _, k := range staff.Kinds() {
		if k == staff.KindPaymentReturn {
			continue // ruled by the refund switch: money leaving the shop
		}
		on, err := s.Staff.TwoPerson(k)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		page.Settings = append(page.Settings, pages.KindSetting{Kind: string(k), Label: s.kindText(lang, k), TwoPerson: on})
	}
	if s.Staff.CanDecide(sess.Role, staff.KindSettings) {
		page.ShopSettings = &pages.ShopSettings{TimeZone: s.Shop.TimeZone(), RetentionDays: s.Shop.RetentionDays(),
			MinDays: shop.MinRetentionDays, MaxDays: shop.MaxRetentionDays}
		if s.payments.Monero() != nil {
			rates, err := s.Shop.XMRRates()
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
			page.ShopSettings.XMR = true
			for c, minor := range rates {
				page.ShopSettings.XMRRates = append(page.ShopSettings.XMRRates, c+" "+pages.Money(minor, c))
			}
			slices.Sort(page.ShopSettings.XMRRates)
		}
	}
	s.Render(w, r, http.StatusOK, page)
}
