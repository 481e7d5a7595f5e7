// Package objstore is streamrec's S3-compatible bucket: putting a finished recording there
// verified (size and checksum), reading it back with ranges, listing what every node put there.
// It is the only package that speaks S3; it holds no queue (upload) and no policy (retention).
package objstore

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/streamrec/streamrec/internal/records"
)

// PartSize is the size of one part of a multipart upload; files up to it go in one request.
// 16 MiB keeps a retried part cheap and a 2 GB recording within 128 parts (S3 allows 10,000).
const PartSize = 16 << 20

// requestTimeout bounds one request that moves no file body (stat, list, delete): a store that
// accepts the connection and then says nothing must not hold a worker forever.
const requestTimeout = 30 * time.Second

// Config says where the bucket is; it comes from the record_s3_* settings.
type Config struct {
	Endpoint  string // "http://127.0.0.1:8333"; "" = AWS (https://s3.REGION.amazonaws.com)
	Region    string
	Bucket    string
	Prefix    string // object key = Prefix + file name
	AccessKey string
	SecretKey string
	PathStyle bool // bucket in the path, not the host name (most self-hosted stores)
}

// Meta is what an object says of the recording it holds, as S3 user metadata (x-amz-meta-*),
// so that any node can list a library from the bucket alone.
type Meta struct {
	Node           string        // node_name of the server that recorded it
	Stream         string        // stream name
	MediaSessionID string        // the publisher's mediaSessionId
	Part           int           // rotated part number, 0 for the first
	Start          time.Time     // wall-clock time of the first frame
	Duration       time.Duration // media duration
	Codecs         string        // "h264,aac"
	SHA256         string        // hex SHA-256 of the whole file, checked after the upload
}

// Object is one recording in the bucket.
type Object struct {
	Name     string // file name (the key without Prefix)
	Key      string
	Size     int64
	ETag     string
	Modified time.Time
	Meta     Meta // filled by Stat and Put; List leaves it zero but for what the key says
}

// ErrNotFound is returned for a name the bucket does not hold.
var ErrNotFound = errors.New("not in the bucket")

// Store is one bucket (and prefix) on one S3-compatible service. Safe for concurrent use.
type Store struct {
	c      *minio.Client
	bucket string
	prefix string
}

// New returns the store of cfg. It does not contact the service: a store that is down at start
// makes uploads wait and retry, it does not stop the server.
func New(cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("record_s3_bucket is empty")
	}
	host, secure := "s3.amazonaws.com", true
	if cfg.Region != "" {
		host = "s3." + cfg.Region + ".amazonaws.com"
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("record_s3_endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	tr.ResponseHeaderTimeout = requestTimeout // a store that stops answering mid-upload fails the attempt
	c, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    tr,
		MaxRetries:   1, // the upload queue retries with its own backoff, and says so
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return &Store{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

// Key is the object key of a file name.
func (s *Store) Key(name string) string { return s.prefix + name }

// Bucket is the bucket's name (for messages).
func (s *Store) Bucket() string { return s.bucket }

// Sums are what Put checks the stored object against, computed from the local file in one read.
type Sums struct {
	Size   int64
	SHA256 string
	ETag   string // what S3 answers for this file uploaded in PartSize parts
}

// Checksum reads the file at path once and returns its size, SHA-256 and expected ETag: the
// MD5 of the body for a single-request upload, the MD5 of the parts' MD5s followed by "-N" for
// a multipart one (how S3 and compatible stores compute it).
func Checksum(path string) (Sums, error) {
	f, err := os.Open(path)
	if err != nil {
		return Sums{}, err
	}
	defer f.Close()
	whole := sha256.New()
	var parts []byte
	part := md5.New()
	var n int64
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		for b := buf[:k]; len(b) > 0; {
			room := PartSize - n%PartSize
			chunk := b[:min(int64(len(b)), room)]
			whole.Write(chunk)
			part.Write(chunk)
			n += int64(len(chunk))
			b = b[len(chunk):]
			if n%PartSize == 0 {
				parts = part.Sum(parts)
				part = md5.New()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return Sums{}, err
		}
	}
	sums := Sums{Size: n, SHA256: hex.EncodeToString(whole.Sum(nil))}
	if n <= PartSize {
		sums.ETag = hexSum(parts, part, n)
	} else {
		if n%PartSize != 0 {
			parts = part.Sum(parts)
		}
		sum := md5.Sum(parts)
		sums.ETag = hex.EncodeToString(sum[:]) + "-" + strconv.Itoa(len(parts)/md5.Size)
	}
	return sums, nil
}

// hexSum is the single-request ETag: the MD5 of the whole body, which is the one part (either
// still open, or closed just now when the file is exactly PartSize).
func hexSum(closed []byte, open hash.Hash, n int64) string {
	if n == PartSize {
		return hex.EncodeToString(closed)
	}
	return hex.EncodeToString(open.Sum(nil))
}

// Put uploads the file at path as name with its metadata, in PartSize parts when larger, then
// reads the object's attributes back and checks size, ETag and the SHA-256 it carries against
// the local file: an object counts as uploaded only when they agree. A file changed while being
// uploaded fails the check.
func (s *Store) Put(ctx context.Context, name, path string, m Meta) (Object, error) {
	sums, err := Checksum(path)
	if err != nil {
		return Object{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Object{}, err
	}
	defer f.Close()
	m.SHA256 = sums.SHA256
	_, err = s.c.PutObject(ctx, s.bucket, s.Key(name), f, sums.Size, minio.PutObjectOptions{
		ContentType:    contentType(name),
		UserMetadata:   m.headers(),
		PartSize:       PartSize,
		NumThreads:     2,
		SendContentMd5: true, // the store checks every request body against it
	})
	if err != nil {
		return Object{}, fmt.Errorf("put %s: %w", s.Key(name), describe(err))
	}
	o, err := s.Stat(ctx, name)
	if err != nil {
		return Object{}, fmt.Errorf("verify %s: %w", s.Key(name), err)
	}
	if err := Verify(o, sums); err != nil {
		return o, fmt.Errorf("verify %s: %w", s.Key(name), err)
	}
	return o, nil
}

// Verify says whether the stored object o (from Stat) is the file of sums: nil, or what differs.
func Verify(o Object, sums Sums) error {
	switch {
	case o.Size != sums.Size:
		return fmt.Errorf("stored %d bytes, the file has %d", o.Size, sums.Size)
	case o.Meta.SHA256 != sums.SHA256:
		return fmt.Errorf("stored SHA-256 %q, the file's is %s", o.Meta.SHA256, sums.SHA256)
	case o.ETag != sums.ETag:
		return fmt.Errorf("stored ETag %s, the file's is %s", o.ETag, sums.ETag)
	}
	return nil
}

// Stat returns the object of name with its metadata, or an error wrapping ErrNotFound.
func (s *Store) Stat(ctx context.Context, name string) (Object, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	info, err := s.c.StatObject(ctx, s.bucket, s.Key(name), minio.StatObjectOptions{})
	if err != nil {
		return Object{}, describe(err)
	}
	o := s.object(info)
	o.Meta = metaOf(info.UserMetadata)
	return o, nil
}

// List returns every recording under the prefix (at most max; 0 = no bound), without their
// metadata (Stat has it: S3 lists keys, sizes and ETags only).
func (s *Store) List(ctx context.Context, max int) ([]Object, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var out []Object
	for info := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if info.Err != nil {
			return out, describe(info.Err)
		}
		o := s.object(info)
		if o.Name == "" || strings.Contains(o.Name, "/") {
			continue // not a recording of ours (streamrec's names are one path element)
		}
		out = append(out, o)
		if max > 0 && len(out) >= max {
			break
		}
	}
	return out, nil
}

// Open returns the object's body for reading and seeking (ranges are fetched as read), or an
// error wrapping ErrNotFound.
func (s *Store) Open(ctx context.Context, name string) (*minio.Object, Object, error) {
	o, err := s.Stat(ctx, name)
	if err != nil {
		return nil, Object{}, err
	}
	body, err := s.c.GetObject(ctx, s.bucket, s.Key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, Object{}, describe(err)
	}
	return body, o, nil
}

// Range returns n bytes of the object of name from start. The request is made here, not at the
// first read, so an unreachable store fails before the caller has answered anything; etag (when
// not "") must still be the object's, so a file put again since its Stat fails rather than
// mixing two files' bytes. ctx bounds the whole transfer: cancel it, or Close the body, to end it.
func (s *Store) Range(ctx context.Context, name, etag string, start, n int64) (io.ReadCloser, error) {
	if n <= 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	var opts minio.GetObjectOptions
	if etag != "" {
		if err := opts.SetMatchETag(etag); err != nil {
			return nil, err
		}
	}
	if err := opts.SetRange(start, start+n-1); err != nil {
		return nil, err
	}
	body, _, _, err := minio.Core{Client: s.c}.GetObject(ctx, s.bucket, s.Key(name), opts)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.Key(name), describe(err))
	}
	return body, nil
}

// Presign returns a URL that downloads name for ttl without credentials.
func (s *Store) Presign(ctx context.Context, name string, ttl time.Duration) (*url.URL, error) {
	return s.c.PresignedGetObject(ctx, s.bucket, s.Key(name), ttl, nil)
}

// Delete removes the object of name (no error when it is not there).
func (s *Store) Delete(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return describe(s.c.RemoveObject(ctx, s.bucket, s.Key(name), minio.RemoveObjectOptions{}))
}

// object maps the client's attributes; the ETag loses its quotes.
func (s *Store) object(info minio.ObjectInfo) Object {
	return Object{
		Name:     strings.TrimPrefix(info.Key, s.prefix),
		Key:      info.Key,
		Size:     info.Size,
		ETag:     strings.Trim(info.ETag, `"`),
		Modified: info.LastModified,
	}
}

// describe turns the client's error into one that says what the store answered, and wraps
// ErrNotFound for a missing key or bucket.
func describe(err error) error {
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	switch {
	case r.StatusCode == http.StatusNotFound || r.Code == "NoSuchKey":
		return fmt.Errorf("%w: %s", ErrNotFound, r.Key)
	case r.Code != "":
		return fmt.Errorf("the store answered %d %s: %s", r.StatusCode, r.Code, r.Message)
	}
	return err
}

// contentType is the MIME type a browser needs to play the file from a presigned URL.
func contentType(name string) string {
	if t := records.ContentType(name); t != "" {
		return t
	}
	return "application/octet-stream"
}
