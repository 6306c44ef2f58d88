package pages

func init() { adminPageNames = append(adminPageNames, "admin_error") }

// AdminError is an error inside the console (a page that does not exist),
// shown in the console's own layout with its navigation.
type AdminError struct {
	AdminBase
	Status  int
	Code    string
	Title   string // translated
	Message string // translated
}

func (*AdminError) page() string { return "admin_error" }
