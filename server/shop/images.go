package shop

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"regexp"
	"slices"

	_ "golang.org/x/image/webp" // WebP decoding (re-encoded as PNG)

	"veil/server/store"
)

// Product images and the shop's logo. An upload is decoded and encoded
// afresh, so nothing of the original file survives but its pixels: no
// EXIF, GPS, XMP, ICC profile, comment or trailing bytes. The result is
// stored under its SHA-256 and served under that name, so its URL changes
// whenever its content does and it may be cached for good.

// Image limits.
const (
	MaxImageBytes    = 2 << 20     // an upload, before decoding
	maxImagePixels   = 4096 * 4096 // a decoded image (a small file may unpack huge)
	maxImageSide     = 8192
	MaxProductImages = 8
	jpegQuality      = 88
)

// ErrImageTooLarge: an upload over MaxImageBytes (413 image_too_large).
var ErrImageTooLarge = errors.New("shop: image too large")

// ErrImageInvalid: not a PNG, JPEG or WebP image, or one too many pixels
// (400 image_invalid).
var ErrImageInvalid = errors.New("shop: not a PNG, JPEG or WebP image")

// ErrImageNotFound: no stored image has that name (404 not_found).
var ErrImageNotFound = errors.New("shop: image not found")

const pImage = "img/" // img/<sha256 hex> -> the re-encoded PNG or JPEG

var imageNameRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// CleanImage decodes data (PNG, JPEG or WebP, at most MaxImageBytes) and
// encodes it again: JPEG stays JPEG, PNG and WebP become PNG. It returns
// the new bytes and their content type. Nothing but the pixels is kept.
func CleanImage(data []byte) ([]byte, string, error) {
	if len(data) > MaxImageBytes {
		return nil, "", ErrImageTooLarge
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", ErrImageInvalid
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide ||
		cfg.Width*cfg.Height > maxImagePixels {
		return nil, "", ErrImageInvalid
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", ErrImageInvalid
	}
	var out bytes.Buffer
	switch format {
	case "jpeg":
		if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
			return nil, "", fmt.Errorf("shop: encode image: %w", err)
		}
		return out.Bytes(), "image/jpeg", nil
	case "png", "webp":
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&out, img); err != nil {
			return nil, "", fmt.Errorf("shop: encode image: %w", err)
		}
		return out.Bytes(), "image/png", nil
	}
	return nil, "", ErrImageInvalid
}

// putImageTx stores a cleaned image and returns its name.
func putImageTx(tx *store.Txn, clean []byte) (string, error) {
	sum := sha256.Sum256(clean)
	name := hex.EncodeToString(sum[:])
	if ok, err := tx.Has(pImage + name); err != nil || ok {
		return name, err
	}
	return name, tx.Set(pImage+name, clean)
}

// Image returns a stored image and its content type (ErrImageNotFound).
func (s *Shop) Image(name string) ([]byte, string, error) {
	if !imageNameRE.MatchString(name) {
		return nil, "", ErrImageNotFound
	}
	var b []byte
	err := s.db.View(func(tx *store.Txn) error {
		v, err := tx.Get(pImage + name)
		if errors.Is(err, store.ErrNotFound) {
			return ErrImageNotFound
		}
		b = v
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return b, http.DetectContentType(b), nil
}

// AddProductImage cleans an upload and appends it to the product's images
// (at most MaxProductImages; the same picture twice is stored once).
// ErrImageTooLarge, ErrImageInvalid, ErrProductNotFound, *InputError.
func (s *Shop) AddProductImage(productID string, data []byte) (Product, error) {
	clean, _, err := CleanImage(data)
	if err != nil {
		return Product{}, err
	}
	return s.editProduct(productID, func(tx *store.Txn, p *Product) error {
		if len(p.Images) >= MaxProductImages {
			return inputErr("image: at most %d per product", MaxProductImages)
		}
		name, err := putImageTx(tx, clean)
		if err != nil {
			return err
		}
		if !slices.Contains(p.Images, name) {
			p.Images = append(p.Images, name)
		}
		return nil
	})
}

// RemoveProductImage takes an image off a product; the image itself goes
// once nothing else shows it. ErrProductNotFound, ErrImageNotFound.
func (s *Shop) RemoveProductImage(productID, name string) (Product, error) {
	return s.editProduct(productID, func(tx *store.Txn, p *Product) error {
		i := slices.Index(p.Images, name)
		if i < 0 {
			return ErrImageNotFound
		}
		p.Images = slices.Delete(p.Images, i, i+1)
		return s.dropImageUnlessUsedTx(tx, name, p.ID)
	})
}

// dropImageUnlessUsedTx deletes a stored image unless another product
// (not except) or the shop's logo still shows it.
func (s *Shop) dropImageUnlessUsedTx(tx *store.Txn, name, except string) error {
	used := false
	if err := tx.Iterate(pProduct, "", false, func(_ string, v []byte) error {
		var p Product
		if err := jsonUnmarshal(v, &p); err != nil {
			return err
		}
		used = used || (p.ID != except && slices.Contains(p.Images, name))
		return nil
	}); err != nil {
		return err
	}
	b, err := s.brandingTx(tx)
	if err != nil {
		return err
	}
	if used || b.Logo == name {
		return nil
	}
	return tx.Delete(pImage + name)
}
