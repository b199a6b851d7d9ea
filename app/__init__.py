"""The composition root: settings, wiring, the serve lifecycle and the command line. The only
package that imports every other."""
