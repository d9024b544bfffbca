// Debian's libxml2 is built with ICU, whose headers clash with Foundation's module map;
// taggan never uses libxml2's ICU encoders, so hide them.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/// `xmlFree` is a global function pointer, which Swift 6 rejects as shared mutable state.
static inline void taggan_xml_free(void *pointer) {
    xmlFree(pointer);
}

/// The runtime library's version string (e.g. "20914"), which may differ from the headers'.
static inline const char *taggan_xml_runtime_version(void) {
    return xmlParserVersion;
}

static void taggan_xml_ignore_error(void *context, const char *message, ...) {
    (void)context; (void)message;
}

/// libxml2 prints some errors (encoding conversion failures) through its generic error
/// handler even with XML_PARSE_NOERROR; taggan reports errors itself, so silence it.
static inline void taggan_xml_silence_generic_errors(void) {
    xmlSetGenericErrorFunc(NULL, taggan_xml_ignore_error);
}
