package pages

import "time"

// The merchant's own shop (issue 12): the storefront's branding, the terms
// page, search and categories on the catalog, and the console's shop and
// catalogue pages.

func init() {
	pageNames = append(pageNames, "terms")
	adminPageNames = append(adminPageNames, "admin_shop", "admin_catalogue", "admin_product_images")
}

// Brand is what every buyer page shows of the merchant. The zero value is
// an unbranded shop: the name falls back to the site.name translation.
type Brand struct {
	Name         string
	Description  string
	LogoURL      string // content-hashed image URL, empty for none
	Announcement string // the running banner, empty for none
	Contacts     []Contact
	// Terms says whether the footer links to the terms page.
	Terms bool
}

// Contact is one of the merchant's support channels. URL, when set, is a
// link to it (t.me, mailto:).
type Contact struct {
	Kind  string // telegram, qq, wechat, email, other
	Value string
	URL   string
}

// SiteName is the shop's name: the merchant's, else the translated
// default.
func (b Base) SiteName() string {
	if b.Brand.Name != "" {
		return b.Brand.Name
	}
	return b.T("site.name")
}

// Terms is the merchant's after-sales rules page.
type Terms struct {
	Base
	Text string
}

func (*Terms) page() string { return "terms" }

// CatalogCategory is one entry of the catalog's category filter.
type CatalogCategory struct {
	Name    string
	URL     string
	Current bool
}

// AdminShop is the console's shop settings page: one form for everything
// buyers see, put in force through a settings approval.
type AdminShop struct {
	AdminBase
	NameEn, NameZh       string
	DescEn, DescZh       string
	LogoURL              string // the logo in force
	AnnEn, AnnZh         string
	AnnEnds              string // "2006-01-02T15:04" in the shop's zone, for datetime-local
	AnnRunning           bool
	Telegram, QQ, WeChat string
	Email                string
	OtherEn, OtherZh     string
	TermsEn, TermsZh     string
	DefaultLang          string
	TimeZone             string
	// Pending lists settings approvals of the shop's branding that wait.
	Pending []string
}

func (*AdminShop) page() string { return "admin_shop" }

// AdminCategory is a category as the catalogue page edits it.
type AdminCategory struct {
	ID       string
	NameEn   string
	NameZh   string
	Sort     int
	Hidden   bool
	Products int
}

// AdminShelfProduct is a product's line on the catalogue page: where it
// sits and whether it is sold.
type AdminShelfProduct struct {
	ID        string
	Name      string
	Slug      string
	Category  string // category id
	Sort      int
	Status    string // on_sale, off_sale, archived
	InStock   int
	Images    int
	ImagesURL string
}

// AdminCatalogue is the console's catalogue page: categories, and every
// product's category, sort order and status.
type AdminCatalogue struct {
	AdminBase
	Categories []AdminCategory
	Products   []AdminShelfProduct
	Archived   []AdminShelfProduct
}

func (*AdminCatalogue) page() string { return "admin_catalogue" }

// ShelfRow is one product line with the page around it, for the shared
// row template.
type ShelfRow struct {
	P AdminShelfProduct
	C *AdminCatalogue
}

// Rows are the product lines: the archived ones, or the rest.
func (c *AdminCatalogue) Rows(archived bool) []ShelfRow {
	ps := c.Products
	if archived {
		ps = c.Archived
	}
	rows := make([]ShelfRow, len(ps))
	for i, p := range ps {
		rows[i] = ShelfRow{P: p, C: c}
	}
	return rows
}

// AdminImage is one of a product's images.
type AdminImage struct {
	Name string // content hash
	URL  string
}

// AdminProductImages lists a product's images with an upload form.
type AdminProductImages struct {
	AdminBase
	ProductID   string
	ProductName string
	Images      []AdminImage
	Max         int
	MaxMB       int
}

func (*AdminProductImages) page() string { return "admin_product_images" }

// ShopTime formats t for a datetime-local input in zone (empty for zero).
func ShopTime(t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if zone == nil {
		zone = time.UTC
	}
	return t.In(zone).Format("2006-01-02T15:04")
}
