package emulator

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
)

// defaultKeyring is APISIX's default data_encryption keyring; the first
// entry encrypts. Fields are AES-128-CBC with key = IV = the keyring entry,
// PKCS#7 padding, base64 — deterministic, so write responses can be compared
// with the recorded ones byte for byte.
const defaultKeyring = "qeddd145sfvddff3"

func encryptField(plain string) string {
	key := []byte(defaultKeyring)
	block, err := aes.NewCipher(key)
	if err != nil {
		// The key is a 16-byte constant.
		panic("emulator: aes: " + err.Error())
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append([]byte(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, key).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf)
}
