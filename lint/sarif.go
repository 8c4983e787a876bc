package lint

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// DocsURL is the page that documents the rules; a rule's section is
// DocsURL + "#" + RuleAnchor(rule).
const DocsURL = "https://github.com/stratapg/strata/blob/main/docs/lint.md"

// InformationURI is strata's home page, as SARIF's tool.driver.informationUri.
const InformationURI = "https://github.com/stratapg/strata"

// RuleAnchor is the anchor of r's section in docs/lint.md ("sa001-adding-volatile-default").
func RuleAnchor(r Rule) string { return strings.ToLower(r.Code + "-" + r.Name) }

// SARIFOptions configures WriteSARIF.
type SARIFOptions struct {
	// ToolVersion is strata's version (tool.driver.version).
	ToolVersion string
	// BaseDir is the folder file URIs are relative to (usually the working
	// directory); a file outside it, or any file when BaseDir is empty and
	// the file's path is absolute, gets an absolute file:// URI.
	BaseDir string
}

// The subset of SARIF 2.1.0 that WriteSARIF writes.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool       sarifTool     `json:"tool"`
		ColumnKind string        `json:"columnKind"`
		Results    []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifRule struct {
		ID                   string          `json:"id"`
		Name                 string          `json:"name"`
		ShortDescription     sarifText       `json:"shortDescription"`
		FullDescription      sarifText       `json:"fullDescription"`
		Help                 sarifText       `json:"help"`
		HelpURI              string          `json:"helpUri"`
		DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
		Properties           sarifRuleProps  `json:"properties"`
	}
	sarifRuleConfig struct {
		Level string `json:"level"`
	}
	sarifRuleProps struct {
		Tags []string `json:"tags"`
	}
	sarifResult struct {
		RuleID    string          `json:"ruleId"`
		RuleIndex int             `json:"ruleIndex"`
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           sarifRegion   `json:"region"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn"`
	}
)

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(severity string) string {
	switch severity {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "note"
}

// WriteSARIF writes findings as a SARIF 2.1.0 log (one run; tool.driver
// lists every rule, with its docs link), as GitHub code scanning and other
// tools read it. Columns count characters (columnKind unicodeCodePoints).
func WriteSARIF(w io.Writer, findings []Finding, opts SARIFOptions) error {
	doc := sarifDoc(findings, opts)
	bw := bufio.NewWriterSize(w, 64<<10)
	writeSARIFLog(bw, &doc)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("lint: write sarif: %w", err)
	}
	return nil
}

// sarifDoc is the SARIF log of findings.
func sarifDoc(findings []Finding, opts SARIFOptions) sarifLog {
	rules := Rules()
	index := make(map[string]int, len(rules))
	driver := sarifDriver{Name: "strata", Version: opts.ToolVersion, InformationURI: InformationURI,
		Rules: make([]sarifRule, len(rules))}
	for i, r := range rules {
		index[r.Code] = i
		driver.Rules[i] = sarifRule{
			ID:                   r.Code,
			Name:                 r.Name,
			ShortDescription:     sarifText{r.Message},
			FullDescription:      sarifText{r.Why},
			Help:                 sarifText{"Safe way: " + r.SafeWay},
			HelpURI:              DocsURL + "#" + RuleAnchor(r),
			DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(r.Severity)},
			Properties:           sarifRuleProps{Tags: []string{r.Group}},
		}
	}
	uris := map[string]string{}
	results := make([]sarifResult, len(findings))
	for i, f := range findings {
		uri, ok := uris[f.File]
		if !ok {
			uri = fileURI(f.File, opts.BaseDir)
			uris[f.File] = uri
		}
		results[i] = sarifResult{
			RuleID:    f.Code,
			RuleIndex: index[f.Code],
			Level:     sarifLevel(f.Severity),
			Message:   sarifText{f.Message},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: uri},
				Region:           sarifRegion{StartLine: max(f.Line, 1), StartColumn: max(f.Column, 1)},
			}}},
		}
	}
	return sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, ColumnKind: "unicodeCodePoints", Results: results}},
	}
}

// writeSARIFLog writes doc as encoding/json's Encoder with a two-space
// indent writes it (TestWriteSARIFMatchesEncodingJSON), without reflection:
// a SARIF log of thousands of results is written in a few milliseconds.
func writeSARIFLog(bw *bufio.Writer, doc *sarifLog) {
	run := &doc.Runs[0]
	d := &run.Tool.Driver
	bw.WriteString("{\n  \"$schema\": ")
	writeJSONString(bw, doc.Schema)
	bw.WriteString(",\n  \"version\": ")
	writeJSONString(bw, doc.Version)
	bw.WriteString(",\n  \"runs\": [\n    {\n      \"tool\": {\n        \"driver\": {\n          \"name\": ")
	writeJSONString(bw, d.Name)
	if d.Version != "" {
		bw.WriteString(",\n          \"version\": ")
		writeJSONString(bw, d.Version)
	}
	bw.WriteString(",\n          \"informationUri\": ")
	writeJSONString(bw, d.InformationURI)
	bw.WriteString(",\n          \"rules\": [")
	for i := range d.Rules {
		r := &d.Rules[i]
		if i > 0 {
			bw.WriteByte(',')
		}
		const in = "\n              "
		bw.WriteString("\n            {" + in + "\"id\": ")
		writeJSONString(bw, r.ID)
		bw.WriteString("," + in + "\"name\": ")
		writeJSONString(bw, r.Name)
		for _, t := range [...]struct {
			key  string
			text string
		}{{"shortDescription", r.ShortDescription.Text}, {"fullDescription", r.FullDescription.Text}, {"help", r.Help.Text}} {
			bw.WriteString("," + in + "\"" + t.key + "\": {" + in + "  \"text\": ")
			writeJSONString(bw, t.text)
			bw.WriteString(in + "}")
		}
		bw.WriteString("," + in + "\"helpUri\": ")
		writeJSONString(bw, r.HelpURI)
		bw.WriteString("," + in + "\"defaultConfiguration\": {" + in + "  \"level\": ")
		writeJSONString(bw, r.DefaultConfiguration.Level)
		bw.WriteString(in + "}," + in + "\"properties\": {" + in + "  \"tags\": [")
		for j, tag := range r.Properties.Tags {
			if j > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(in + "    ")
			writeJSONString(bw, tag)
		}
		if len(r.Properties.Tags) > 0 {
			bw.WriteString(in + "  ")
		}
		bw.WriteString("]" + in + "}\n            }")
	}
	if len(d.Rules) > 0 {
		bw.WriteString("\n          ")
	}
	bw.WriteString("]\n        }\n      },\n      \"columnKind\": ")
	writeJSONString(bw, run.ColumnKind)
	bw.WriteString(",\n      \"results\": [")
	for i := range run.Results {
		r := &run.Results[i]
		if i > 0 {
			bw.WriteByte(',')
		}
		const in = "\n          "
		bw.WriteString("\n        {" + in + "\"ruleId\": ")
		writeJSONString(bw, r.RuleID)
		bw.WriteString("," + in + "\"ruleIndex\": ")
		bw.WriteString(strconv.Itoa(r.RuleIndex))
		bw.WriteString("," + in + "\"level\": ")
		writeJSONString(bw, r.Level)
		bw.WriteString("," + in + "\"message\": {" + in + "  \"text\": ")
		writeJSONString(bw, r.Message.Text)
		bw.WriteString(in + "}," + in + "\"locations\": [")
		for j := range r.Locations {
			l := &r.Locations[j].PhysicalLocation
			if j > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(in + "  {" + in + "    \"physicalLocation\": {" + in + "      \"artifactLocation\": {" + in + "        \"uri\": ")
			writeJSONString(bw, l.ArtifactLocation.URI)
			bw.WriteString(in + "      }," + in + "      \"region\": {" + in + "        \"startLine\": ")
			bw.WriteString(strconv.Itoa(l.Region.StartLine))
			bw.WriteString("," + in + "        \"startColumn\": ")
			bw.WriteString(strconv.Itoa(l.Region.StartColumn))
			bw.WriteString(in + "      }" + in + "    }" + in + "  }")
		}
		if len(r.Locations) > 0 {
			bw.WriteString(in)
		}
		bw.WriteString("]\n        }")
	}
	if len(run.Results) > 0 {
		bw.WriteString("\n      ")
	}
	bw.WriteString("]\n    }\n  ]\n}\n")
}

// fileURI is the SARIF artifact URI of file: relative to base (with forward
// slashes, percent-encoded) when file is inside it, else an absolute file://
// URI; a relative file with no base stays relative.
func fileURI(file, base string) string {
	p := file
	if base != "" {
		abs, err := filepath.Abs(file)
		if err == nil {
			if rel, err := filepath.Rel(base, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				p = rel
			} else {
				p = abs
			}
		}
	}
	p = filepath.ToSlash(p)
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // C:/x on Windows
		}
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}
