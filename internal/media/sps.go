package media

import (
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/avc"
)

// ParseSPS parses an H.264 sequence parameter set from a peer. mp4ff's parser sizes a slice by
// num_ref_frames_in_pic_order_cnt_cycle as read, up to 2^32 (a 30-byte SPS made it allocate
// 12 GB); so the SPS is first walked up to that field and refused when a value is outside what
// the H.264 specification allows (7.4.2.1.1). Every SPS that reaches mp4ff goes through here.
func ParseSPS(nalu []byte) (*avc.SPS, error) {
	if err := checkSPS(nalu); err != nil {
		return nil, fmt.Errorf("H.264 SPS: %w", err)
	}
	return avc.ParseSPSNALUnit(nalu, false) // false: the VUI only up to the aspect ratio
}

var errSPSCut = errors.New("cut short")

// spsBits reads the RBSP of a NAL unit (emulation prevention bytes removed) bit by bit.
type spsBits struct {
	b   []byte
	pos int // bit position
}

func newSPSBits(nalu []byte) *spsBits {
	rbsp := make([]byte, 0, len(nalu))
	zeros := 0
	for _, c := range nalu {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		rbsp = append(rbsp, c)
	}
	return &spsBits{b: rbsp}
}

func (r *spsBits) bit() (uint, error) {
	if r.pos >= 8*len(r.b) {
		return 0, errSPSCut
	}
	v := uint(r.b[r.pos/8]>>(7-r.pos%8)) & 1
	r.pos++
	return v, nil
}

// ue reads an unsigned Exp-Golomb value, refused above max.
func (r *spsBits) ue(name string, max uint) (uint, error) {
	zeros := 0
	for {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		if b == 1 {
			break
		}
		if zeros++; zeros > 31 {
			return 0, fmt.Errorf("%s: Exp-Golomb code too long", name)
		}
	}
	v := uint(1)
	for range zeros {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		v = v<<1 | b
	}
	if v-1 > max {
		return 0, fmt.Errorf("%s = %d (at most %d)", name, v-1, max)
	}
	return v - 1, nil
}

// se reads a signed Exp-Golomb value (its magnitude bounded only by the code length).
func (r *spsBits) se(name string) error {
	_, err := r.ue(name, 1<<32-1)
	return err
}

func (r *spsBits) skip(n int) error {
	if r.pos += n; r.pos > 8*len(r.b) {
		return errSPSCut
	}
	return nil
}

// checkSPS walks seq_parameter_set_data up to the picture order count cycle.
func checkSPS(nalu []byte) error {
	if len(nalu) < 4 || nalu[0]&0x1f != 7 {
		return errors.New("not an SPS NAL unit")
	}
	r := newSPSBits(nalu[1:])
	profile := r.b[0]
	if err := r.skip(24); err != nil { // profile_idc, constraint flags, level_idc
		return err
	}
	if _, err := r.ue("seq_parameter_set_id", 31); err != nil {
		return err
	}
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		if err := r.chromaAndScaling(); err != nil {
			return err
		}
	}
	if _, err := r.ue("log2_max_frame_num_minus4", 12); err != nil {
		return err
	}
	pocType, err := r.ue("pic_order_cnt_type", 2)
	if err != nil {
		return err
	}
	switch pocType {
	case 0:
		_, err = r.ue("log2_max_pic_order_cnt_lsb_minus4", 12)
	case 1:
		if err = r.skip(1); err == nil { // delta_pic_order_always_zero_flag
			err = r.se("offset_for_non_ref_pic")
		}
		if err == nil {
			err = r.se("offset_for_top_to_bottom_field")
		}
		if err == nil {
			_, err = r.ue("num_ref_frames_in_pic_order_cnt_cycle", 255)
		}
	}
	return err
}

// chromaAndScaling walks the high-profile fields: chroma format, bit depths, scaling lists.
func (r *spsBits) chromaAndScaling() error {
	chroma, err := r.ue("chroma_format_idc", 3)
	if err != nil {
		return err
	}
	if chroma == 3 {
		if err := r.skip(1); err != nil { // separate_colour_plane_flag
			return err
		}
	}
	if _, err := r.ue("bit_depth_luma_minus8", 6); err != nil {
		return err
	}
	if _, err := r.ue("bit_depth_chroma_minus8", 6); err != nil {
		return err
	}
	if err := r.skip(1); err != nil { // qpprime_y_zero_transform_bypass_flag
		return err
	}
	present, err := r.bit() // seq_scaling_matrix_present_flag
	if err != nil || present == 0 {
		return err
	}
	lists := 8
	if chroma == 3 {
		lists = 12
	}
	for i := range lists {
		listPresent, err := r.bit()
		if err != nil {
			return err
		}
		if listPresent == 0 {
			continue
		}
		size := 16
		if i >= 6 {
			size = 64
		}
		if err := r.scalingList(size); err != nil {
			return err
		}
	}
	return nil
}

// scalingList walks scaling_list(): delta_scale values until next_scale becomes 0.
func (r *spsBits) scalingList(size int) error {
	last, next := 8, 8
	for range size {
		if next != 0 {
			d, err := r.ue("delta_scale", 1<<32-1)
			if err != nil {
				return err
			}
			delta := int((d + 1) / 2) // se(v) from its code number
			if d%2 == 0 {
				delta = -delta
			}
			if delta < -128 || delta > 127 {
				return fmt.Errorf("delta_scale = %d (-128 to 127)", delta)
			}
			next = (last + delta + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
	return nil
}
