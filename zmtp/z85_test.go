package zmtp

import (
	"bytes"
	"errors"
	"testing"
)

// The check vector of RFC 32.
func TestZ85RFCVector(t *testing.T) {
	raw := []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}
	s, err := Z85Encode(raw)
	if err != nil || s != "HelloWorld" {
		t.Fatalf("Z85Encode = %q, %v; want HelloWorld", s, err)
	}
	b, err := Z85Decode("HelloWorld")
	if err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("Z85Decode = % x, %v; want % x", b, err, raw)
	}
}

func TestZ85RoundTripAllBytes(t *testing.T) {
	raw := make([]byte, 256)
	for i := range raw {
		raw[i] = byte(255 - i)
	}
	s, err := Z85Encode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 320 {
		t.Fatalf("encoded length %d, want 320", len(s))
	}
	back, err := Z85Decode(s)
	if err != nil || !bytes.Equal(back, raw) {
		t.Fatalf("round trip failed: %v", err)
	}
}

func TestZ85Rejects(t *testing.T) {
	if _, err := Z85Encode([]byte{1, 2, 3}); !errors.Is(err, ErrZ85) {
		t.Errorf("3 bytes: err = %v, want ErrZ85", err)
	}
	for _, s := range []string{"Hell", "Hello Worl", "Hello\x00orld", "%%%%%"} {
		if _, err := Z85Decode(s); !errors.Is(err, ErrZ85) {
			t.Errorf("Z85Decode(%q): err = %v, want ErrZ85", s, err)
		}
	}
}

func FuzzZ85(f *testing.F) {
	f.Add("HelloWorld")
	f.Add("#####")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Z85Decode(s)
		if err != nil {
			return
		}
		back, err := Z85Encode(b)
		if err != nil || back != s {
			t.Fatalf("decode then encode of %q gave %q, %v", s, back, err)
		}
	})
}
