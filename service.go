package kcred

import "time"

// ServiceTypeKafka is the only service type.
const ServiceTypeKafka = "kafka"

// Service is one Kafka cluster registered in a project.
type Service struct {
	ID         string
	Project    string
	Name       string
	Type       string
	URI        string // host:port bootstrap address; may be empty
	TechEmails []string
	CreateTime time.Time
	UpdateTime time.Time
}
