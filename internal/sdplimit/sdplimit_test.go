package sdplimit

import (
	"errors"
	"testing"
)

func TestBounds(t *testing.T) {
	if err := CheckSize(MaxBytes); err != nil {
		t.Errorf("CheckSize(MaxBytes) = %v", err)
	}
	if err := CheckSize(MaxBytes + 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("CheckSize(MaxBytes+1) = %v, want ErrTooLarge", err)
	}
	if err := CheckMedias(MaxMedias); err != nil {
		t.Errorf("CheckMedias(MaxMedias) = %v", err)
	}
	if err := CheckMedias(2000); !errors.Is(err, ErrTooManyMedias) {
		t.Errorf("CheckMedias(2000) = %v, want ErrTooManyMedias", err)
	}
}
