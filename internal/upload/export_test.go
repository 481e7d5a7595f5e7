package upload

// SetBeforePut sets the test hook run between reading a file's sums and its upload.
func SetBeforePut(c *Config, fn func(name string)) { c.beforePut = fn }
