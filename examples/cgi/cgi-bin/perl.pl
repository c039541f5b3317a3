#!/usr/bin/perl
# A Perl CGI script: prints the request's meta-variables as a plain-text table.
use strict;
use warnings;

print "Content-Type: text/plain; charset=utf-8\r\n\r\n";
for my $name (sort keys %ENV) {
    print "$name=$ENV{$name}\n";
}
