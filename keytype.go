package kcred

// KeyType names the algorithm and size of a service user's private key.
// There is no Ed25519: Kafka's PEM key loader cannot read it.
type KeyType string

// The key types kcred issues. KeyTypeECP256 is the default.
const (
	KeyTypeECP256  KeyType = "ec-p256"
	KeyTypeECP384  KeyType = "ec-p384"
	KeyTypeRSA2048 KeyType = "rsa-2048"
	KeyTypeRSA3072 KeyType = "rsa-3072"
	KeyTypeRSA4096 KeyType = "rsa-4096"
)

// KeyTypes lists every supported key type, default first.
var KeyTypes = []KeyType{KeyTypeECP256, KeyTypeECP384, KeyTypeRSA2048, KeyTypeRSA3072, KeyTypeRSA4096}

// Valid reports whether k is one of KeyTypes.
func (k KeyType) Valid() bool {
	for _, t := range KeyTypes {
		if k == t {
			return true
		}
	}
	return false
}
